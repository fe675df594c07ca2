//! The send use case (TODO me)
