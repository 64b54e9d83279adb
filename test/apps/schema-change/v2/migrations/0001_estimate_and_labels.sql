CREATE TABLE `labels` (
	`room_id` text NOT NULL,
	`id` integer NOT NULL,
	`name` text NOT NULL,
	`_seq` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`room_id`, `id`)
);
--> statement-breakpoint
ALTER TABLE `items` ADD `estimate_minutes` integer;