CREATE TABLE `items` (
	`room_id` text NOT NULL,
	`id` integer NOT NULL,
	`title` text NOT NULL,
	`_seq` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`room_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `_replica_state` (
	`room_id` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `_debounced_state` (
	`room_id` text NOT NULL,
	`id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	`_seq` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`room_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `_debounced_state_key_idx` ON `_debounced_state` (`room_id`,`key`);