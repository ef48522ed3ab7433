from setuptools import find_packages, setup

setup(
    name="flink-rerank",
    version="0.1.0",
    description="Real-time personalised re-ranking for e-commerce on Apache Flink (PyFlink)",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["jobs", "udfs", "state_schemas", "conf", "infra", "bench"]),
    package_data={"state_schemas": ["*.schema.json"], "conf": ["*.yaml"]},
    install_requires=[
        # apache-flink 2.2.x matches the pinned Kafka connector jar (flink-sql-connector-kafka
        # 5.0.0-2.2, infra/pom.xml); it pins numpy and pyarrow itself, we pin the same versions.
        "apache-flink==2.2.1",
        "numpy==2.1.3",
        "pyarrow==16.1.0",
        "redis==5.3.1",
        "PyYAML==6.0.4",
        "fastjsonschema==2.22.3",
        # Kafka client for the local tools (topic set-up, replay, printing output) and the tests.
        "confluent-kafka==2.16.1",
    ],
    extras_require={"test": ["pytest==9.2.0"]},
)
