"""Data validation with Great Expectations: tables built from episodes, suites, drift, the gate."""
