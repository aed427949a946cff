-- Up Migration

-- The request's style controls, so ratings and requests can be split by them: strength
-- (0..1), whether the photo's colours were kept, and the uploaded painting of an
-- arbitrary-style model.
ALTER TABLE served_requests ADD COLUMN strength double precision, ADD COLUMN preserve_colors boolean, ADD COLUMN style text;
ALTER TABLE feedback ADD COLUMN strength double precision, ADD COLUMN preserve_colors boolean, ADD COLUMN style text;

-- Down Migration
ALTER TABLE feedback DROP COLUMN style, DROP COLUMN preserve_colors, DROP COLUMN strength;
ALTER TABLE served_requests DROP COLUMN style, DROP COLUMN preserve_colors, DROP COLUMN strength;
