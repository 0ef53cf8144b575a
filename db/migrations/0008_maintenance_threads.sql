CREATE TABLE `maintenance_threads` (
	`maintenance_id` integer NOT NULL,
	`platform` text NOT NULL,
	`channel` text NOT NULL,
	`root_ref` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`maintenance_id`, `platform`),
	FOREIGN KEY (`maintenance_id`) REFERENCES `maintenances`(`id`) ON UPDATE no action ON DELETE no action
);
