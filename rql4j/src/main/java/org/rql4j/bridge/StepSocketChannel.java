package org.rql4j.bridge;

import io.grpc.Status;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.rql4j.proto.v1.OpenStepSocketResponse;
import org.rql4j.proto.v1.StepRequest;
import org.rql4j.proto.v1.StepResponse;
import org.rql4j.proto.v1.StepSocketReply;

/**
 * The client end of an env's step socket (the proto's {@code OpenStepSocket}): lockstep frames of
 * a 4-byte big-endian length and a serialized message over one TCP connection, TCP_NODELAY on.
 * Failures surface as {@link BridgeException}s with the status code a gRPC call would have had.
 * Not thread-safe.
 */
final class StepSocketChannel implements AutoCloseable {

  /** Largest reply accepted, as {@link GrpcEnvClient#MAX_MESSAGE_BYTES}. */
  static final int MAX_FRAME_BYTES = GrpcEnvClient.MAX_MESSAGE_BYTES;

  private final Socket socket;
  private final DataInputStream in;
  private final DataOutputStream out;
  private final String address;
  private final long spinNanos;
  /** How long the last reply took to start arriving: polling is skipped while replies take longer than it lasts. */
  private long lastWaitNanos;
  private byte[] buffer = new byte[4096];

  private StepSocketChannel(Socket socket, String address, long spinNanos) throws IOException {
    this.socket = socket;
    this.address = address;
    this.spinNanos = spinNanos;
    this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), 65536));
    this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream(), 65536));
  }

  /**
   * Connects to the socket the server opened and sends its token.
   *
   * @param opened the server's answer to OpenStepSocket
   * @param fallbackHost the host used for gRPC, taken when the server names a wildcard address
   * @param timeout connect timeout and the longest wait for each reply
   * @param spinWait how long to poll for each reply before blocking in the read (zero: never)
   */
  static StepSocketChannel connect(OpenStepSocketResponse opened, String fallbackHost,
      Duration timeout, Duration spinWait) throws IOException {
    String host = opened.getHost();
    if (isWildcard(host)) {
      host = fallbackHost;
    }
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      int ms = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
      // a port that drops packets must not cost a whole call timeout: 10 s at most to connect
      socket.connect(new InetSocketAddress(host, opened.getPort()), Math.min(ms, 10_000));
      socket.setSoTimeout(ms);
      StepSocketChannel channel = new StepSocketChannel(socket, host + ":" + opened.getPort(),
          Math.max(0, spinWait.toNanos()));
      channel.out.write(opened.getToken().toByteArray());
      return channel;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  /** Whether {@code host} is empty or a wildcard address ("0.0.0.0", "::", "::0", ...). */
  static boolean isWildcard(String host) {
    String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
    if (h.isEmpty()) {
      return true;
    }
    if (!h.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == '.' || c == ':')) {
      return false; // a host name: never resolve it here
    }
    try {
      return java.net.InetAddress.getByName(h).isAnyLocalAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** Where this channel is connected, for messages. */
  String address() {
    return address;
  }

  /**
   * Sends one step and waits for its answer.
   *
   * @throws io.grpc.StatusRuntimeException with the server's status when it answered with an
   *     error (the channel stays usable)
   * @throws IOException when the connection failed (the channel is unusable; close it)
   */
  StepResponse step(StepRequest request) throws IOException {
    int size = request.getSerializedSize();
    out.writeInt(size);
    request.writeTo(out);
    out.flush();
    long sent = System.nanoTime();
    if (spinNanos > 0 && lastWaitNanos < spinNanos) {
      spinUntilReadable(sent);
    }
    int n;
    try {
      n = in.readInt();
    } catch (EOFException e) {
      throw new EOFException("the server closed the step socket " + address);
    }
    lastWaitNanos = System.nanoTime() - sent;
    if (n < 0 || n > MAX_FRAME_BYTES) {
      throw new IOException("step socket " + address + " sent a frame of " + Integer.toUnsignedString(n)
          + " bytes (limit " + MAX_FRAME_BYTES + "): not an rql4j step socket?");
    }
    if (buffer.length < n) {
      buffer = new byte[Math.max(n, buffer.length * 2)];
    }
    in.readFully(buffer, 0, n);
    StepSocketReply reply = StepSocketReply.parseFrom(ByteBuffer.wrap(buffer, 0, n));
    if (reply.hasError()) {
      throw Status.fromCodeValue(reply.getError().getCode())
          .withDescription(reply.getError().getMessage()).asRuntimeException();
    }
    if (!reply.hasResponse()) {
      throw new IOException("step socket " + address + " sent a reply with neither response nor error");
    }
    return reply.getResponse();
  }

  /**
   * Polls the socket until a reply's first bytes are there or {@link #spinNanos} have passed (the
   * blocking read that follows then returns at once, or waits as before). Skipped while replies take
   * longer than that (many copies, a slow simulator): polling would only spend the core.
   */
  private void spinUntilReadable(long sent) throws IOException {
    long deadline = sent + spinNanos;
    while (in.available() == 0 && System.nanoTime() - deadline < 0) {
      Thread.onSpinWait();
    }
  }

  /** Whether {@code e} is a read timeout (the server did not answer in time). */
  static boolean isTimeout(IOException e) {
    return e instanceof SocketTimeoutException;
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // nothing to release
    }
  }
}
