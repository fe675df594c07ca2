//! The dispatcher (TODO me)
