package org.rql4j.bridge;

import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.BlockingClientCall;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.rql4j.env.Value;
import org.rql4j.env.VectorStep;
import org.rql4j.proto.v1.EnvServiceGrpc;
import org.rql4j.proto.v1.MakeResponse;
import org.rql4j.proto.v1.OpenStepSocketRequest;
import org.rql4j.proto.v1.OpenStepSocketResponse;
import org.rql4j.proto.v1.StepRequest;
import org.rql4j.proto.v1.StepResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link VectorEnv} held by the Python env server: made, reset and closed over gRPC, and
 * stepped as the spec's {@link StepTransport} says (the step socket by default, a lockstep bidi
 * stream, or unary calls). Not thread-safe: one thread steps an env.
 */
public final class GrpcVectorEnv extends AbstractRemoteVectorEnv {

  private static final Logger LOG = LoggerFactory.getLogger(GrpcVectorEnv.class);

  private final GrpcEnvClient client;
  private BlockingClientCall<StepRequest, StepResponse> stream;
  private StepSocketChannel socket;
  private boolean socketRefused; // the step socket is unavailable here: the stream serves instead

  GrpcVectorEnv(GrpcEnvClient client, EnvSpec spec, MakeResponse made) {
    super(client, spec, made);
    this.client = client;
  }

  private EnvServiceGrpc.EnvServiceBlockingStub stub() {
    return EnvServiceGrpc.newBlockingStub(client.channel())
        .withDeadlineAfter(spec.callTimeout().toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public VectorStep step(Value actions) {
    checkOpen("step");
    StepRequest req = EnvMessages.step(handle, actions);
    StepResponse resp = switch (spec.transport()) {
      case SOCKET -> stepSocket(req);
      case STREAM -> stepStreaming(req);
      case UNARY -> stepUnary(req);
    };
    return EnvMessages.step(resp);
  }

  private StepResponse stepUnary(StepRequest req) {
    try {
      return stub().step(req);
    } catch (StatusRuntimeException e) {
      throw client.error("step " + spec.envId(), e);
    }
  }

  private StepResponse stepStreaming(StepRequest req) {
    long timeoutMs = spec.callTimeout().toMillis();
    try {
      if (stream == null) {
        stream = EnvServiceGrpc.newBlockingV2Stub(client.channel()).stepStream();
      }
      if (!stream.write(req, timeoutMs, TimeUnit.MILLISECONDS)) {
        // The server ended the stream; read() surfaces its status.
        stream.read(timeoutMs, TimeUnit.MILLISECONDS);
        throw new StatusException(io.grpc.Status.UNAVAILABLE.withDescription("step stream closed"));
      }
      StepResponse resp = stream.read(timeoutMs, TimeUnit.MILLISECONDS);
      if (resp == null) {
        throw new StatusException(io.grpc.Status.UNAVAILABLE.withDescription("step stream ended"));
      }
      return resp;
    } catch (StatusException | StatusRuntimeException e) {
      dropStream();
      throw client.error("step " + spec.envId(), e);
    } catch (TimeoutException e) {
      dropStream();
      throw client.error("step " + spec.envId(), io.grpc.Status.DEADLINE_EXCEEDED
          .withDescription("no step response in " + timeoutMs + " ms").asRuntimeException());
    } catch (InterruptedException e) {
      dropStream();
      Thread.currentThread().interrupt();
      throw new BridgeException(io.grpc.Status.Code.CANCELLED,
          "interrupted while stepping " + spec.envId(), e);
    }
  }

  private StepResponse stepSocket(StepRequest req) {
    if (socketRefused) {
      return stepStreaming(req);
    }
    if (socket == null) {
      OpenStepSocketResponse opened;
      try {
        opened = stub().openStepSocket(OpenStepSocketRequest.newBuilder().setEnvHandle(handle).build());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == io.grpc.Status.Code.UNIMPLEMENTED) {
          return fallBackToStream(req, "the server has no step socket (an older python-bridge)");
        }
        if (e.getStatus().getCode() == io.grpc.Status.Code.RESOURCE_EXHAUSTED) {
          // the server's --max-step-sockets are taken (many envs on one server): the stream is as correct
          return fallBackToStream(req, "the server has no step socket to spare (" + e.getStatus().getDescription()
              + ")");
        }
        throw client.error("open the step socket of " + spec.envId(), e);
      }
      try {
        socket = StepSocketChannel.connect(opened, client.host(), spec.callTimeout(), spec.spinWait());
      } catch (IOException e) {
        // the gRPC port answered, the socket's port did not (e.g. only the gRPC port is published)
        return fallBackToStream(req, "cannot connect to its step socket at " + opened.getHost() + ":"
            + opened.getPort() + " (" + e + ")");
      }
    }
    try {
      return socket.step(req);
    } catch (StatusRuntimeException e) {
      throw client.error("step " + spec.envId(), e);  // the server's answer; the socket stays open
    } catch (IOException e) {
      String where = socket.address();
      dropSocket();
      io.grpc.Status status = StepSocketChannel.isTimeout(e)
          ? io.grpc.Status.DEADLINE_EXCEEDED.withDescription("no step response in "
              + spec.callTimeout().toMillis() + " ms on the step socket " + where)
          : io.grpc.Status.UNAVAILABLE.withDescription("step socket " + where + ": " + e);
      throw client.error("step " + spec.envId(), status.withCause(e).asRuntimeException());
    }
  }

  private StepResponse fallBackToStream(StepRequest req, String why) {
    socketRefused = true;
    // a warning: the run goes on, slower, and a CLI user sees it on stderr
    LOG.warn("{} on {}: {}; stepping over the gRPC stream instead (StepTransport.STREAM, slower per step)",
        spec.envId(), client.target(), why);
    return stepStreaming(req);
  }

  private void dropSocket() {
    if (socket != null) {
      socket.close();
      socket = null;
    }
  }

  private void dropStream() {
    if (stream != null) {
      try {
        stream.cancel("rql4j: dropping the step stream after an error", null);
      } catch (RuntimeException ignored) {
        // already closed
      }
      stream = null;
    }
  }

  @Override
  protected void closeStepping() {
    if (stream != null) {
      try {
        stream.halfClose();
      } catch (RuntimeException ignored) {
        // the server may already be gone
      }
      dropStream();
    }
    dropSocket();
  }
}
