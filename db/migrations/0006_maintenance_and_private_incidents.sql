CREATE TABLE `maintenance_components` (
	`maintenance_id` integer NOT NULL,
	`component_id` integer NOT NULL,
	PRIMARY KEY(`maintenance_id`, `component_id`),
	FOREIGN KEY (`maintenance_id`) REFERENCES `maintenances`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `maintenance_components_component` ON `maintenance_components` (`component_id`);--> statement-breakpoint
CREATE TABLE `maintenances` (
	`id` integer PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`status` text NOT NULL,
	`starts_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`auto_start` integer DEFAULT true NOT NULL,
	`auto_complete` integer DEFAULT true NOT NULL,
	`created_by` text NOT NULL,
	`scheduled_at` integer NOT NULL,
	`recorded_at` integer NOT NULL,
	`started_at` integer,
	`verifying_at` integer,
	`completed_at` integer,
	`cancelled_at` integer,
	`public_status` text,
	`published_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `maintenances_due_start` ON `maintenances` (`status`,`starts_at`);--> statement-breakpoint
CREATE INDEX `maintenances_due_end` ON `maintenances` (`status`,`ends_at`);--> statement-breakpoint
CREATE INDEX `maintenances_published` ON `maintenances` (`published_at`,`id`);--> statement-breakpoint
ALTER TABLE `incidents` ADD `visibility` text DEFAULT 'public' NOT NULL;--> statement-breakpoint
ALTER TABLE `incidents` ADD `private_channel` text;