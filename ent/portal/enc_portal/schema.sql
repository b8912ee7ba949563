-- enc_portal schema: a pupil, their class's timetable, homework and messages.
-- Indexed for the portal's per-page queries (one pupil or one class at a time).
CREATE TABLE IF NOT EXISTS pupils (
    id          serial PRIMARY KEY,
    login       text UNIQUE NOT NULL,
    full_name   text NOT NULL,
    class_name  text NOT NULL,
    pw_salt     bytea NOT NULL,
    pw_hash     bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS timetable (
    class_name  text NOT NULL,
    weekday     smallint NOT NULL,
    slot        smallint NOT NULL,
    subject     text NOT NULL,
    room        text NOT NULL,
    PRIMARY KEY (class_name, weekday, slot)
);
CREATE TABLE IF NOT EXISTS homework (
    id          serial PRIMARY KEY,
    class_name  text NOT NULL,
    due         date NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL
);
CREATE INDEX IF NOT EXISTS homework_class_due ON homework (class_name, due);
CREATE TABLE IF NOT EXISTS messages (
    id          serial PRIMARY KEY,
    pupil_id    integer NOT NULL REFERENCES pupils (id),
    sent        timestamptz NOT NULL,
    sender      text NOT NULL,
    subject     text NOT NULL,
    unread      boolean NOT NULL DEFAULT true
);
CREATE INDEX IF NOT EXISTS messages_pupil_sent ON messages (pupil_id, sent DESC);
