CREATE INDEX `outbox_lane_live` ON `outbox` (`state`,`target`,`incident_id`,`id`);--> statement-breakpoint
CREATE INDEX `outbox_folded_into` ON `outbox` (`folded_into`);