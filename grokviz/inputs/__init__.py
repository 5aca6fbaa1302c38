"""Inputs a user hands grokviz, read and validated: samples, test items, checkpoint series and
lm-evaluation-harness files.

Every reader refuses a malformed file with one `InputError` naming the file, line and field.
Nothing here loads a model, touches the store or imports torch.
"""
