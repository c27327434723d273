"""fashiond's service and command line: config, watching, batching, the database, retraining."""
