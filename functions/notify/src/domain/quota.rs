//! The tenant's send quotas per channel: the plan's caps, which an admin may lower.

use serde::{Deserialize, Serialize};
use shared::access::PlanTier;

use super::Channel;

/// Daily and monthly caps of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    pub daily: i64,
    pub monthly: i64,
}

/// What a plan allows per channel (in-app messages are not metered by a provider, but
/// still capped so a runaway loop cannot fill the table).
pub fn plan_caps(plan: PlanTier, channel: Channel) -> Caps {
    let (daily, monthly) = match (plan.level(), channel) {
        (0, Channel::Email) => (200, 3_000),
        // No SMS on the free plans: anyone can found one (`Feature::Sms`).
        (0, Channel::Sms) => (0, 0),
        (0, Channel::Push) => (1_000, 20_000),
        (0, Channel::InApp) => (5_000, 100_000),
        (1, Channel::Email) => (2_000, 40_000),
        (1, Channel::Sms) => (200, 3_000),
        (1, Channel::Push) => (10_000, 200_000),
        (1, Channel::InApp) => (50_000, 1_000_000),
        (2, Channel::Email) => (20_000, 400_000),
        (2, Channel::Sms) => (2_000, 30_000),
        (2, Channel::Push) => (100_000, 2_000_000),
        (2, Channel::InApp) => (200_000, 4_000_000),
        (3, Channel::Email) => (100_000, 2_000_000),
        (3, Channel::Sms) => (10_000, 150_000),
        (3, _) => (500_000, 10_000_000),
        (_, Channel::Email) => (500_000, 10_000_000),
        (_, Channel::Sms) => (50_000, 1_000_000),
        (_, _) => (2_000_000, 50_000_000),
    };
    Caps { daily, monthly }
}
