CREATE TABLE `reminders` (
	`incident_id` integer NOT NULL,
	`kind` text NOT NULL,
	`since` integer NOT NULL,
	`fired_at` integer NOT NULL,
	PRIMARY KEY(`incident_id`, `kind`, `since`),
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
