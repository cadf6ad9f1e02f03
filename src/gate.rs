//! `Gate`: extraction, key lookup, validation, roles and policy composed into
//! one sans-IO check.
