-- Up Migration

-- The fine-tuning service's job records: the record as the service saved it (the store reads
-- only id, model and state), one row per job, replaced on every save.
CREATE TABLE training_jobs (
  id text PRIMARY KEY,
  model text NOT NULL,
  state text NOT NULL,
  record jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE training_jobs;
