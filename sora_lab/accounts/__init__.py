"""Who people are: accounts, invite codes, bearer tokens and the invite-only access model."""
