"""The store and its guard: schema, migrations, access policy, audit log, encryption."""
