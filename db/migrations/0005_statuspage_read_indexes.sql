CREATE INDEX `csh_public_at` ON `component_status_history` (`is_public`,`at`,`id`);--> statement-breakpoint
CREATE INDEX `incidents_published` ON `incidents` (`published_at`,`id`);