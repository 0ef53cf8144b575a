CREATE TABLE `approvers` (
	`user_ref` text PRIMARY KEY NOT NULL,
	`added_by` text NOT NULL,
	`added_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `component_status_history` (
	`id` integer PRIMARY KEY NOT NULL,
	`component_id` integer NOT NULL,
	`incident_id` integer,
	`status` text NOT NULL,
	`rolled_up` text NOT NULL,
	`is_public` integer NOT NULL,
	`at` integer NOT NULL,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `csh_component_at` ON `component_status_history` (`component_id`,`at`);--> statement-breakpoint
CREATE TABLE `components` (
	`id` integer PRIMARY KEY NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`group_name` text,
	`position` integer NOT NULL,
	`description` text,
	`status` text DEFAULT 'operational' NOT NULL,
	`public_status` text DEFAULT 'operational' NOT NULL,
	`statuspage_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `components_slug_unique` ON `components` (`slug`);--> statement-breakpoint
CREATE TABLE `customer_updates` (
	`id` integer PRIMARY KEY NOT NULL,
	`incident_id` integer NOT NULL,
	`state` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
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
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `updates_incident` ON `customer_updates` (`incident_id`,`state`);--> statement-breakpoint
CREATE TABLE `followups` (
	`id` integer PRIMARY KEY NOT NULL,
	`incident_id` integer NOT NULL,
	`text` text NOT NULL,
	`owner` text,
	`state` text DEFAULT 'open' NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`done_at` integer,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `incident_components` (
	`incident_id` integer NOT NULL,
	`component_id` integer NOT NULL,
	`status` text NOT NULL,
	`public_status` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`incident_id`, `component_id`),
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`component_id`) REFERENCES `components`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `incident_threads` (
	`incident_id` integer NOT NULL,
	`platform` text NOT NULL,
	`channel` text NOT NULL,
	`root_ref` text,
	`dedicated` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`incident_id`, `platform`, `channel`),
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `threads_channel_root` ON `incident_threads` (`platform`,`channel`,`root_ref`);--> statement-breakpoint
CREATE TABLE `incidents` (
	`id` integer PRIMARY KEY NOT NULL,
	`title` text NOT NULL,
	`status` text NOT NULL,
	`severity` integer NOT NULL,
	`lead` text,
	`commander` text,
	`comms` text,
	`scribe` text,
	`created_by` text NOT NULL,
	`started_at` integer NOT NULL,
	`declared_at` integer NOT NULL,
	`identified_at` integer,
	`monitoring_at` integer,
	`resolved_at` integer,
	`recorded_at` integer NOT NULL,
	`public_status` text,
	`published_at` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `incidents_status` ON `incidents` (`status`);--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`incident_id` integer,
	`target` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`customer_facing` integer DEFAULT false NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`claimed_until` integer,
	`last_error` text,
	`remote_ref` text,
	`folded_into` integer,
	`approved_at` integer,
	`deadline_at` integer,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbox_delivery_id_unique` ON `outbox` (`delivery_id`);--> statement-breakpoint
CREATE INDEX `outbox_due` ON `outbox` (`state`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `outbox_order` ON `outbox` (`target`,`incident_id`,`id`);--> statement-breakpoint
CREATE TABLE `postmortems` (
	`incident_id` integer PRIMARY KEY NOT NULL,
	`markdown` text NOT NULL,
	`public_body` text,
	`published_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `processed_events` (
	`platform` text NOT NULL,
	`event_id` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `processed_events_key` ON `processed_events` (`platform`,`event_id`);--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_by` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` integer PRIMARY KEY NOT NULL,
	`target` text NOT NULL,
	`kind` text NOT NULL,
	`components` text DEFAULT '[]' NOT NULL,
	`secret` text,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `subscriptions_target_unique` ON `subscriptions` (`target`);--> statement-breakpoint
CREATE TABLE `templates` (
	`name` text PRIMARY KEY NOT NULL,
	`status` text,
	`body` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `timeline_events` (
	`id` integer PRIMARY KEY NOT NULL,
	`incident_id` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`recorded_at` integer NOT NULL,
	`actor` text NOT NULL,
	`kind` text NOT NULL,
	`text` text NOT NULL,
	`payload` text DEFAULT '{}' NOT NULL,
	FOREIGN KEY (`incident_id`) REFERENCES `incidents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `timeline_incident_occurred` ON `timeline_events` (`incident_id`,`occurred_at`,`id`);