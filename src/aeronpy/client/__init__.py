"""The client API: Aeron, publications, subscriptions, images."""
