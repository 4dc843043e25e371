package manifest

const defaultConfig = `# trove configuration. Safe to commit: never put secrets here
# (credentials come from AWS_* environment variables or ~/.aws/credentials).
version: 1
`
