CREATE TABLE `_debounced_state` (
	`room_id` text NOT NULL,
	`id` integer NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL,
	PRIMARY KEY(`room_id`, `id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `_debounced_state_key_idx` ON `_debounced_state` (`room_id`,`key`);