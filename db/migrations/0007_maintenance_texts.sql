CREATE TABLE `maintenance_events` (
	`id` integer PRIMARY KEY NOT NULL,
	`maintenance_id` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`recorded_at` integer NOT NULL,
	`actor` text NOT NULL,
	`kind` text NOT NULL,
	`text` text NOT NULL,
	`payload` text DEFAULT '{}' NOT NULL,
	FOREIGN KEY (`maintenance_id`) REFERENCES `maintenances`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `maintenance_events_occurred` ON `maintenance_events` (`maintenance_id`,`occurred_at`,`id`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_customer_updates` (
	`id` integer PRIMARY KEY NOT NULL,
	`incident_id` integer,
	`maintenance_id` integer,
	`state` text NOT NULL,
	`body` text NOT NULL,
	`status` text,
	`maintenance_status` text,
	`moves_status` integer DEFAULT false NOT NULL,
	`component_changes` text DEFAULT '[]' NOT NULL,
	`template` text,
	`author` text NOT NULL,
	`approver` text,
	`reject_reason` text,
	`is_postmortem` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`approved_at` integer,
	`rejected_at` integer,
	`published_at` integer,
	`display_at` integer NOT NULL,
	`nudged_at` integer,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`maintenance_id`) REFERENCES `maintenances`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "updates_owner" CHECK((incident_id is not null and status is not null and maintenance_id is null and maintenance_status is null) or (incident_id is null and status is null and maintenance_id is not null and maintenance_status is not null))
);
--> statement-breakpoint
INSERT INTO `__new_customer_updates`("id", "incident_id", "state", "body", "status", "component_changes", "template", "author", "approver", "reject_reason", "is_postmortem", "created_at", "approved_at", "rejected_at", "published_at", "display_at", "nudged_at") SELECT "id", "incident_id", "state", "body", "status", "component_changes", "template", "author", "approver", "reject_reason", "is_postmortem", "created_at", "approved_at", "rejected_at", "published_at", "display_at", "nudged_at" FROM `customer_updates`;--> statement-breakpoint
DROP TABLE `customer_updates`;--> statement-breakpoint
ALTER TABLE `__new_customer_updates` RENAME TO `customer_updates`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `updates_incident` ON `customer_updates` (`incident_id`,`state`);--> statement-breakpoint
CREATE INDEX `updates_maintenance` ON `customer_updates` (`maintenance_id`,`state`);