-- run once by the postgres image on its first start: the study's database is POSTGRES_DB
-- (optuna); MLflow gets one of its own
CREATE DATABASE mlflow OWNER automl;
