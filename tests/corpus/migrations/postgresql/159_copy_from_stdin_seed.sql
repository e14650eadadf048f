COPY countries (code, name) FROM stdin;
DE	Germany
FR	France
XX	DROP TABLE users;
\.

ALTER TABLE users ADD COLUMN country_code char(2);
