CREATE TABLE `items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`title` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tbl` text NOT NULL,
	`op` text NOT NULL,
	`pk` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `_sync_status` (
	`id` integer PRIMARY KEY NOT NULL,
	`room` text,
	`replicated_seq` integer DEFAULT 0 NOT NULL,
	`needs_full_resync` integer DEFAULT 1 NOT NULL,
	`total_syncs` integer DEFAULT 0 NOT NULL,
	`sync_errors` integer DEFAULT 0 NOT NULL,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`last_sync_at` integer,
	`last_attempt_at` integer,
	`next_attempt_at` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `_debounced_state` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `_debounced_state_key_idx` ON `_debounced_state` (`key`);