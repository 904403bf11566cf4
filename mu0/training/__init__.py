"""Training: the DeepSpeed engine, checkpoints, the pretraining stage. Receives a tracker object;
never imports mlflow or prefect."""
