"""Legacy keys into model records, for the jobs that write records only (migration, follower).

``members`` parses ``posted_tweets`` members fast; ``posts`` writes the ``Post`` records of
parsed members with the dual write's own script in record-only mode; ``accounts`` reads legacy
accounts and upserts their ``TwitterAccount`` records. All are operations (see
``redis_client.core.protocol``): the same records whoever writes them, and never a legacy key.
"""
