//! The property language (being written).
