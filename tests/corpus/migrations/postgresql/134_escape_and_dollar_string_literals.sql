INSERT INTO notes (body) VALUES (E'it\'s fine; DROP TABLE users; -- not really');
INSERT INTO snippets (name, body) VALUES ('cleanup', $body$DROP TABLE users;$body$);
