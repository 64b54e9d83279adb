CREATE TABLE `_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tbl` text NOT NULL,
	`op` text NOT NULL,
	`pk` integer NOT NULL,
	`at` integer NOT NULL
);
