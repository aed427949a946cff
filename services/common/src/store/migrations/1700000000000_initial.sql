-- Up Migration

-- One row per rating; a client's newer rating of the same output replaces its row.
CREATE TABLE feedback (
  id bigserial PRIMARY KEY,
  model text NOT NULL,
  version text NOT NULL,
  rating text NOT NULL CHECK (rating IN ('good', 'bad')),
  content_image_filename text NOT NULL,
  output_image_filename text NOT NULL,
  -- '' when the rating came without a client id (such ratings are never merged)
  client_id text NOT NULL DEFAULT '',
  rated_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  comment text,
  request_id text
);
CREATE UNIQUE INDEX feedback_one_per_output_and_client ON feedback (output_image_filename, client_id) WHERE client_id <> '';
CREATE INDEX feedback_by_version ON feedback (model, version);

CREATE TABLE served_requests (
  id bigserial PRIMARY KEY,
  model text NOT NULL,
  version text NOT NULL,
  routing text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX served_requests_by_version ON served_requests (model, version);

CREATE TABLE routing_policy (
  model text PRIMARY KEY,
  candidate text,
  percent double precision NOT NULL CHECK (percent >= 0 AND percent <= 100),
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL,
  reason text
);

CREATE TABLE release_history (
  id bigserial PRIMARY KEY,
  model text NOT NULL,
  at timestamptz NOT NULL,
  action text NOT NULL,
  from_version text,
  to_version text,
  percent double precision,
  actor text NOT NULL,
  reason text
);
CREATE INDEX release_history_by_model ON release_history (model, id);

-- Down Migration
DROP TABLE release_history;
DROP TABLE routing_policy;
DROP TABLE served_requests;
DROP TABLE feedback;
