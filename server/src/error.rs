//! API errors and their HTTP status per protocol.
