//! A person's notification preferences: opt-in per category x channel, quiet hours in
//! their timezone, daily caps per category.
//! TODO(helper P): the full model, validation and defaults.

use chrono::{DateTime, Utc};

use super::{Category, Channel};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {}

impl Preferences {
    /// Does this person take `category` messages over `channel`? Essential categories
    /// (transactional, system) always pass.
    pub fn allows(&self, category: Category, _channel: Channel) -> bool {
        category.is_essential() || true
    }
    /// When `now` falls in the person's quiet hours: the end of the window.
    pub fn quiet_until(&self, _now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        None
    }
    /// The person's daily cap for `category` (None: no cap).
    pub fn daily_cap(&self, _category: Category) -> Option<u32> {
        None
    }
}
