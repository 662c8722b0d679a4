"""The schema catalog: versioned JSON Schemas for the record types agencies exchange."""
