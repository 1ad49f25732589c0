package io.machvm.api;

import java.util.regex.Pattern;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;

/**
 * Tomcat's error report for requests that never reach the application (an undecodable URI, a malformed request
 * line…): a problem instead of Tomcat's HTML page.
 */
public class ProblemErrorReportValve extends ErrorReportValve {
    /** What Tomcat quotes of the request in its reasons: {@code " [" … "]"}. */
    private static final Pattern QUOTED = Pattern.compile("\\s*\\[.*\\]", Pattern.DOTALL);

    @Override
    protected void report(Request request, Response response, Throwable throwable) {
        int status = response.getStatus();
        if (status < 400 || response.getContentWritten() > 0 || response.isCommitted()) {
            return;
        }
        String instance = request.getDecodedRequestURIMB() == null || request.getDecodedRequestURIMB().isNull()
                ? String.valueOf(request.getRequestURI())
                : request.getDecodedRequestURI();
        String detail = "the request was refused (" + status + ")";
        if (status == 400 && throwable instanceof IllegalArgumentException parse && parse.getMessage() != null) {
            // Tomcat's reason for a request it could not parse (an oversized head, a bad character in the target…),
            // without the bytes it quotes in brackets: the client sent them, and they may be anything
            detail = "the request could not be parsed: "
                    + Texts.truncate(QUOTED.matcher(parse.getMessage()).replaceAll(""), 300);
        }
        if (status == 501 || status == 505) {
            // Tomcat's answers to a method, transfer coding or HTTP version it does not implement: the client's fault
            detail = status == 505 ? "HTTP version not supported: send HTTP/1.1"
                    : "the request uses a method or transfer coding the service does not support";
            status = 400;
        }
        int reported = status >= 500 ? 500 : status;
        ProblemWriter.write(response.getResponse(), reported,
                status >= 500 ? io.machvm.vm.KernReturn.KERN_FAILURE : io.machvm.vm.KernReturn.KERN_INVALID_ARGUMENT,
                status >= 500 ? "the service failed unexpectedly" : detail,
                instance == null || instance.equals("null") ? "" : instance, null);
    }
}
