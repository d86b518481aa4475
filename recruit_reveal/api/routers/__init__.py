"""One APIRouter per concern: health, predictions, what-if, models, MLflow's
/invocations, the Open Inference Protocol (/v2) and /metrics."""
