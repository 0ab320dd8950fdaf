"""The trained reader: e5-small with fine-tuned top layers that finds answer spans."""
