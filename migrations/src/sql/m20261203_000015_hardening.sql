-- A login session (a family of refresh tokens) ends at an absolute time however often it
-- is refreshed: each rotated token carries its family's start. (Tokens issued before this
-- migration have none: their family's clock starts at their own issue.)
ALTER TABLE refresh_tokens ADD COLUMN family_started_at timestamptz;
