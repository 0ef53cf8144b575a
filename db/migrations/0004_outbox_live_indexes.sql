DROP INDEX `outbox_lane_live`;--> statement-breakpoint
DROP INDEX `outbox_delivered_age`;--> statement-breakpoint
CREATE INDEX `outbox_lane_pending` ON `outbox` (`state`,`target`,`incident_id`,`id`) WHERE state = 'pending';--> statement-breakpoint
CREATE INDEX `outbox_lane_in_flight` ON `outbox` (`state`,`target`,`incident_id`,`id`) WHERE state = 'in_flight';--> statement-breakpoint
CREATE INDEX `outbox_lane_live` ON `outbox` (`state`,`target`,`incident_id`,`id`) WHERE state in ('pending', 'in_flight');--> statement-breakpoint
CREATE INDEX `outbox_delivered_age` ON `outbox` (`delivered_at`) WHERE state = 'delivered';