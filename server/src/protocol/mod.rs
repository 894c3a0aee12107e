//! Request decoding and answer encoding, one module per protocol.
