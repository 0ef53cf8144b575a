ALTER TABLE `subscriptions` ADD `disabled_at` integer;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `disabled_cause` text;--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `disabled_reason` text;--> statement-breakpoint
CREATE INDEX `outbox_delivered_age` ON `outbox` (`state`,`delivered_at`);--> statement-breakpoint
-- Webhook rows follow their retry schedule, not the chat deadline: rows still waiting from before
-- this migration stop carrying one (9007199254740991 is NO_DEADLINE in src/mirror/policy.ts).
UPDATE `outbox` SET `deadline_at` = 9007199254740991 WHERE `target` LIKE 'webhook:%' AND `state` IN ('pending', 'in_flight');