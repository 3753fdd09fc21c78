//! Placeholder while the protocol core is assembled.
