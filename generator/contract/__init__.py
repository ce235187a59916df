"""Contract testing of a gateway (the simulator or a live sandbox) against the spec, with schemathesis."""
