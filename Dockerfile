# The lab as a container: CPU build of torch 2.13.0, a non-root user, the run store on a volume.
#
#   docker build -t keras-lab .
#   docker run -p 8501:8501 -v lab-data:/data keras-lab
#
# MNIST is fetched at build time (FETCH_MNIST=0 to skip it and mount a folder instead:
# -v /path/to/mnist:/data/mnist -e MNIST_DIR=/data/mnist).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    KERAS_BACKEND=torch \
    KERAS_HOME=/data/keras \
    LAB_HOME=/data/runs \
    MNIST_DIR=/opt/mnist \
    LAB_PRIVATE_RUNS=1 \
    STREAMLIT_SERVER_PORT=8501 \
    PATH=/opt/venv/bin:$PATH

# tini as the container's first process: it reaps processes a run's code left behind once their worker
# died (Streamlit, as process 1, would keep them as zombies) and passes `docker stop` on to Streamlit.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*

# The user id Hugging Face Spaces runs containers as.
RUN useradd --create-home --uid 1000 lab && mkdir -p /data && chown lab /data

WORKDIR /app
COPY requirements.txt ./
COPY deploy/install.sh deploy/install.sh
RUN TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash deploy/install.sh /opt/venv

ARG FETCH_MNIST=1
COPY deploy/fetch_mnist.py deploy/fetch_mnist.py
RUN if [ "$FETCH_MNIST" = "1" ]; then python deploy/fetch_mnist.py /opt/mnist; fi

COPY --chown=lab . .
USER lab
VOLUME /data
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s CMD ["python", "deploy/healthcheck.py"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.headless", "true"]
