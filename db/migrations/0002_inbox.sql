CREATE TABLE `inbox` (
	`id` integer PRIMARY KEY NOT NULL,
	`platform` text NOT NULL,
	`received_at` integer NOT NULL,
	`content_type` text NOT NULL,
	`body` text NOT NULL
);
