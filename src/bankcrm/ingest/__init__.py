"""Extract-bundle loading: validation, reject store, lake writer, master-data upsert."""
