package org.rql4j.bridge;

/**
 * Child-JVM probe for {@link PythonServerIT}: starts an env server, prints its pid as
 * {@code SERVER_PID=<pid>}, then sleeps until it is killed.
 */
public final class OrphanProbe {

  private OrphanProbe() {}

  public static void main(String[] args) throws Exception {
    PythonServer server = PythonServer.start();
    System.out.println("SERVER_PID=" + server.pid());
    System.out.flush();
    Thread.sleep(600_000);
  }
}
