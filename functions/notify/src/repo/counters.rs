//! Counters (TODO me)
