"""One APIRouter per concern: health, predictions, models."""
