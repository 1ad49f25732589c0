package io.machvm.ui;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.File;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.core.Ordered;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * The inspector page ({@code /ui/}) in headless Chromium, against the service on a random port: tasks are set up
 * through the HTTP API, then the page must draw them, and what is edited on the page must be what the API reads back.
 * Needs Debian's {@code chromium} and {@code chromium-driver} (paths overridable with {@code -Dmachvm.ui.chromium} and
 * {@code -Dmachvm.ui.chromedriver}); run with {@code ./mvnw verify -Pui}. Leaves {@code target/inspector.png}, and
 * a picture of the page after each test, {@code target/ui-<test>.png}.
 */
@Tag("browser")
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"machvm.store.capacity=64MB", "machvm.store.slab-size=16MB"})
@Import(InspectorPageTest.BearerStub.class)
class InspectorPageTest {
    private static final Path CHROMIUM = Path.of(System.getProperty("machvm.ui.chromium", "/usr/bin/chromium"));
    private static final Path CHROMEDRIVER =
            Path.of(System.getProperty("machvm.ui.chromedriver", "/usr/bin/chromedriver"));
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final AtomicInteger TASKS = new AtomicInteger();

    private static ChromeDriver driver;
    private static Path profile;

    @LocalServerPort
    int port;

    @BeforeAll
    static void startBrowser() throws IOException {
        assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "the browser test needs " + CHROMIUM + " and " + CHROMEDRIVER
                        + ": apt-get install chromium chromium-driver (.ci/run does), or run without -Pui");
        profile = Files.createTempDirectory("machvm-ui-chromium");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--window-size=1280,1200",
                "--force-device-scale-factor=1", "--lang=en-US");
        options.setCapability("goog:loggingPrefs", Map.of("browser", "ALL"));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        driver = new ChromeDriver(service, options);
    }

    @AfterAll
    static void stopBrowser() throws IOException {
        if (driver != null) {
            driver.quit();
        }
        if (profile != null) {
            try (var files = Files.walk(profile)) {
                files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    @BeforeEach
    void pointRestAssuredAtServer() {
        RestAssured.port = port;
        BearerStub.REQUIRED.set(null);
    }

    /**
     * Keeps a picture of the page as the test left it ({@code target/ui-<test>.png}, for a failure's sake), forgets the
     * token and leaves the page, after checking that it ran under a strict Content-Security-Policy (see
     * {@link BearerStub}) without a refusal or a script error.
     */
    @AfterEach
    void leaveThePage(TestInfo test) {
        BearerStub.REQUIRED.set(null);
        if (driver.getCurrentUrl().startsWith("http")) {
            screenshot("ui-" + test.getTestMethod().map(java.lang.reflect.Method::getName).orElse("test"));
        }
        List<String> console = driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .map(LogEntry::getMessage).toList();
        if (driver.getCurrentUrl().startsWith("http")) {
            js("sessionStorage.clear()");
        }
        driver.get("about:blank"); // the next test loads the page afresh
        assertThat(console).as("browser console")
                .noneMatch(m -> m.contains("Content Security Policy") || m.contains("Uncaught") || m.contains("Refused"));
    }

    @Test
    void rootRedirectsToTheInspector() {
        driver.get(base() + "/");
        until(ExpectedConditions.urlToBe(base() + "/ui/"));
        assertThat(driver.getTitle()).isEqualTo("machvm inspector");
        given().redirects().follow(false).when().get("/").then().statusCode(302);
    }

    @Test
    void drawsTheRegionsAndTheTableMatchesTheRegionWalk() {
        String task = newTask();
        allocate(task, "0x100000000", "0x8000");
        allocate(task, "0x100010000", "0x4000");
        allocate(task, "0x200000000", "0xc000");
        protect(task, "0x200004000", "0x4000", "r--");
        inherit(task, "0x100010000", "0x4000", "share");
        write(task, "0x100000000", "hello".getBytes(StandardCharsets.US_ASCII));

        openTask(task);
        List<Map<String, Object>> regions = given().when().get("/tasks/" + task + "/regions")
                .then().statusCode(200).extract().jsonPath().getList("$");
        assertThat(regions).hasSize(5);
        until(d -> d.findElements(By.cssSelector("#map .seg")).size() == regions.size()
                && !d.findElements(By.cssSelector("#regions-body td[data-col=rsdnt]")).isEmpty()
                && !"–".equals(d.findElement(By.cssSelector("#regions-body td[data-col=rsdnt]")).getText()));

        List<WebElement> segments = driver.findElements(By.cssSelector("#map .seg"));
        List<WebElement> rows = driver.findElements(By.cssSelector("#regions-body tr"));
        assertThat(rows).hasSize(regions.size());
        assertThat(driver.findElements(By.cssSelector("#map .hole"))).isNotEmpty();
        for (int i = 0; i < regions.size(); i++) {
            Map<String, Object> r = regions.get(i);
            BigInteger start = u64(r.get("address"));
            BigInteger end = start.add(u64(r.get("size")));
            WebElement row = rows.get(i);
            assertThat(row.getAttribute("data-address")).isEqualTo(r.get("address"));
            assertThat(u64s(cell(row, 0).getText())).containsExactly(start, end);
            assertThat(cell(row, 4).getText()).isEqualTo(r.get("protection") + "/" + r.get("maxProtection"));
            assertThat(cell(row, 6).getText()).isEqualTo(r.get("inheritance"));
            assertThat(u64(cell(row, 7).getText())).isEqualTo(u64(r.get("offset")));
            if (Boolean.TRUE.equals(r.get("shared"))) {
                assertThat(cell(row, 5).getText()).isEqualTo("SHM");
            }

            WebElement seg = segments.get(i);
            assertThat(seg.getAttribute("data-address")).isEqualTo(r.get("address"));
            assertThat(seg.getText()).isEqualTo(r.get("protection"));
            assertThat(seg.getAttribute("data-tip"))
                    .contains(r.get("protection") + "/" + r.get("maxProtection"))
                    .contains("inheritance " + r.get("inheritance"));
        }
        // sizes in vmmap's units, and the resident and dirty columns from the page query
        assertThat(cell(rows.get(0), 1).getText()).isEqualTo("32K");
        assertThat(cell(rows.get(0), 2).getText()).isEqualTo("16K");
        assertThat(cell(rows.get(0), 3).getText()).isEqualTo("16K");
        assertThat(cell(rows.get(0), 5).getText()).isEqualTo("PRV");

        // hovering a region shows its protections and inheritance
        new org.openqa.selenium.interactions.Actions(driver).moveToElement(segments.get(1)).perform();
        until(ExpectedConditions.visibilityOfElementLocated(By.id("map-tip")));
        assertThat(driver.findElement(By.id("map-tip")).getText()).contains("rw-/rwx").contains("inheritance share");
        screenshot("regions");
    }

    @Test
    void pageGridShowsPresentAndDirtyPagesAndClearsDirty() {
        String task = newTask();
        allocate(task, "0x100000000", "0x10000");
        write(task, "0x100004000", new byte[] {1, 2, 3});
        write(task, "0x10000c000", new byte[] {4});

        openTask(task);
        until(d -> d.findElements(By.cssSelector("#pages-grid .pg")).size() == 4);
        assertThat(pageClasses()).containsExactly("pg cursor", "pg present dirty", "pg", "pg present dirty");

        driver.findElement(By.id("pages-clear-dirty")).click();
        until(d -> d.findElements(By.cssSelector("#pages-grid .pg.dirty")).isEmpty());
        assertThat(pageClasses()).containsExactly("pg cursor", "pg present", "pg", "pg present");
        given().when().get("/tasks/" + task + "/pages?address=0x100000000&size=0x10000")
                .then().statusCode(200).body("dispositions", org.hamcrest.Matchers.contains(0, 1, 0, 1));

        // a write from elsewhere shows after a refresh; clicking a page opens it in the hex view
        write(task, "0x100008000", new byte[] {9});
        driver.findElement(By.id("pages-refresh")).click();
        until(d -> d.findElements(By.cssSelector("#pages-grid .pg.dirty")).size() == 1);
        driver.findElements(By.cssSelector("#pages-grid .pg")).get(2).click();
        until(ExpectedConditions.textToBe(By.cssSelector("#hex .hex-row:nth-child(2) .hex-addr"), "0x000100008000"));
        assertThat(driver.findElement(By.cssSelector("#hex [data-address='0x100008000']")).getText()).isEqualTo("09");
    }

    @Test
    void editsAByteInTheHexViewAndTheApiReadsItBack() {
        String task = newTask();
        allocate(task, "0x100000000", "0x8000");
        write(task, "0x100004000", "hello, mach".getBytes(StandardCharsets.US_ASCII));

        openTask(task);
        goTo("0x100004000");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100004004']"), "6f"));
        assertThat(driver.findElement(By.cssSelector("#hex .hex-ascii[data-row='0']")).getText())
                .startsWith("hello, mach");

        // click a byte and type two hex digits
        driver.findElement(By.cssSelector("#hex [data-address='0x100004001']")).click();
        driver.findElement(By.id("hex")).sendKeys("a7");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100004001']"), "a7"));
        assertThat(read(task, "0x100004000", 3)).containsExactly('h', 0xa7, 'l');

        // the cursor moved on; arrow keys move it further
        driver.findElement(By.id("hex")).sendKeys(Keys.ARROW_DOWN, Keys.ARROW_RIGHT, "4", "2");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100004013']"), "42"));
        assertThat(read(task, "0x100004013", 1)).containsExactly(0x42);

        // several bytes through the write form, at an address in another window
        WebElement at = driver.findElement(By.id("write-address"));
        at.clear();
        at.sendKeys("0x100007ff0");
        driver.findElement(By.id("write-bytes")).sendKeys("\"mach\"" + Keys.ENTER);
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100007ff3']"), "68"));
        assertThat(new String(toBytes(read(task, "0x100007ff0", 4)), StandardCharsets.US_ASCII)).isEqualTo("mach");
    }

    @Test
    void aRefusedWriteShowsTheProblemTitleAndDetail() {
        String task = newTask();
        allocate(task, "0x100000000", "0x8000");
        write(task, "0x100004000", new byte[] {0x11, 0x22});
        protect(task, "0x100004000", "0x4000", "r--");
        Response refused = given().contentType(ContentType.BINARY).body(new byte[] {(byte) 0xff})
                .when().put("/tasks/" + task + "/memory/0x100004001");
        assertThat(refused.statusCode()).isEqualTo(403);
        String detail = refused.jsonPath().getString("detail");

        openTask(task);
        goTo("0x100004001");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100004001']"), "22"));
        driver.findElement(By.id("hex")).sendKeys("ff");
        until(ExpectedConditions.visibilityOfElementLocated(By.id("hex-problem")));
        String shown = driver.findElement(By.id("hex-problem")).getText();
        assertThat(shown).contains("Protection failure").contains(detail);
        screenshot("refused");
        assertThat(driver.findElement(By.cssSelector("#hex [data-address='0x100004001']")).getText()).isEqualTo("22");
        assertThat(read(task, "0x100004000", 2)).containsExactly(0x11, 0x22);

        // an unmapped window shows why it has no bytes, up to the top of the u64 range (beyond a JS number)
        goTo("0x100200000");
        until(ExpectedConditions.textToBePresentInElementLocated(By.id("hex-problem"), "Invalid address"));
        assertThat(driver.findElement(By.cssSelector("#hex [data-address='0x100200000']")).getText()).isEqualTo("··");
        goTo("0xfffffffffffffffe");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex .hex-row:last-child .hex-addr"), "0xfffffffffffffff0"));
        assertThat(driver.findElement(By.id("hex-status")).getText()).isEqualTo("0xfffffffffffffffe");
        driver.findElement(By.id("hex")).sendKeys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT);
        until(ExpectedConditions.attributeContains(
                By.cssSelector("#hex [data-address='0xffffffffffffffff']"), "class", "cursor"));
    }

    @Test
    void createsForksAndTerminatesTasksFromThePage() {
        driver.get(base() + "/ui/");
        String id = "ui-made-" + TASKS.incrementAndGet();
        driver.findElement(By.id("create-id")).sendKeys(id);
        driver.findElement(By.id("create-name")).sendKeys("from the page");
        driver.findElement(By.id("create-button")).click();
        until(ExpectedConditions.textToBe(By.id("task-id"), id));
        given().when().get("/tasks/" + id).then().statusCode(200)
                .body("name", org.hamcrest.Matchers.equalTo("from the page"));

        WebElement size = driver.findElement(By.id("allocate-size"));
        size.clear();
        size.sendKeys("0x4000" + Keys.ENTER);
        until(d -> d.findElements(By.cssSelector("#map .seg")).size() == 1);

        int before = given().when().get("/tasks").jsonPath().getList("$").size();
        clickFresh(By.cssSelector("tr[data-task='" + id + "'] button[data-key='fork:" + id + "']"));
        until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"), "Forked " + id));
        assertThat(given().when().get("/tasks").jsonPath().getList("$")).hasSize(before + 1);
        until(d -> d.findElements(By.cssSelector("#tasks-body tr")).size() == before + 1);

        By terminate = By.cssSelector("button[data-key='term:" + id + "']");
        clickFresh(terminate);
        until(ExpectedConditions.textToBePresentInElementLocated(terminate, "Confirm"));
        clickFresh(terminate);
        until(ExpectedConditions.invisibilityOfElementLocated(By.cssSelector("tr[data-task='" + id + "']")));
        given().when().get("/tasks/" + id).then().statusCode(404);
    }

    /** Clicks the element {@code by} finds, finding it again when a refresh of the page replaced it. */
    private void clickFresh(By by) {
        until(d -> {
            try {
                d.findElement(by).click();
                return true;
            } catch (StaleElementReferenceException replaced) {
                return false;
            }
        });
    }

    @Test
    void asksForATokenWhenTheApiDemandsOneAndSendsItOnEveryCall() {
        String task = newTask();
        allocate(task, "0x100000000", "0x4000");
        BearerStub.REQUIRED.set("s3cret-token");
        BearerStub.SEEN.clear();

        driver.get(base() + "/ui/#/tasks/" + task);
        WebElement dialog = until(ExpectedConditions.visibilityOfElementLocated(By.id("auth-dialog")));
        assertThat(dialog.getText()).contains("bearer token");
        screenshot("token");
        driver.findElement(By.id("auth-token")).sendKeys("wrong" + Keys.ENTER);
        until(ExpectedConditions.textToBePresentInElementLocated(By.id("auth-message"), "refused"));
        driver.findElement(By.id("auth-token")).sendKeys("s3cret-token" + Keys.ENTER);
        until(ExpectedConditions.invisibilityOfElementLocated(By.id("auth-dialog")));
        until(d -> d.findElements(By.cssSelector("#map .seg")).size() == 1);
        assertThat(js("return sessionStorage.getItem('machvm.token')")).isEqualTo("s3cret-token");

        // after the token was given, every API call carried it (the host panel's polling included)
        BearerStub.SEEN.clear();
        driver.findElement(By.id("task-refresh")).click();
        until(d -> BearerStub.SEEN.stream().anyMatch(s -> s.startsWith("/host/statistics ")));
        assertThat(BearerStub.SEEN).isNotEmpty()
                .allSatisfy(s -> assertThat(s).endsWith(" Bearer s3cret-token"));
    }

    @Test
    void snapshotsATaskAndRestoresTheFile() throws IOException {
        String task = newTask();
        allocate(task, "0x100000000", "0x8000");
        protect(task, "0x100004000", "0x4000", "r--");
        write(task, "0x100000000", "snapshot me".getBytes(StandardCharsets.US_ASCII));
        byte[] image = given().when().get("/tasks/" + task + "/snapshot").then().statusCode(200)
                .extract().asByteArray();

        openTask(task);
        driver.findElement(By.cssSelector("button[data-key='snap:" + task + "']")).click();
        until(ExpectedConditions.textToBePresentInElementLocated(By.id("notice"),
                "Snapshot of " + task + ": " + image.length + " bytes"));

        Path file = Files.write(profile.resolve(task + ".machvm"), image);
        String restored = task + "-restored";
        driver.findElement(By.id("restore-file")).sendKeys(file.toString());
        driver.findElement(By.id("restore-id")).sendKeys(restored);
        driver.findElement(By.id("restore-button")).click();
        until(ExpectedConditions.textToBe(By.id("task-id"), restored));
        until(d -> d.findElements(By.cssSelector("#map .seg")).size() == 2);
        assertThat(given().when().get("/tasks/" + restored + "/regions").then().statusCode(200).extract().asString())
                .isEqualTo(given().when().get("/tasks/" + task + "/regions").then().extract().asString());
        until(ExpectedConditions.textToBe(By.cssSelector("#hex .hex-ascii[data-row='0']"), "snapshot me....."));
    }

    @Test
    void theMapAndTheHexViewWorkFromTheKeyboard() {
        String task = newTask();
        allocate(task, "0x100000000", "0x4000");
        allocate(task, "0x100100000", "0x8000");
        write(task, "0x100100000", new byte[] {0x10, 0x20, 0x30});

        openTask(task);
        until(d -> d.findElements(By.cssSelector("#map .seg")).size() == 2);
        WebElement first = driver.findElement(By.cssSelector("#map .seg"));
        js("arguments[0].focus()", first);
        until(ExpectedConditions.visibilityOfElementLocated(By.id("map-tip")));
        assertThat(driver.findElement(By.id("map-tip")).getText()).contains("0x000100000000-0x000100004000");

        driver.switchTo().activeElement().sendKeys(Keys.ARROW_RIGHT);
        assertThat(driver.switchTo().activeElement().getAttribute("data-address")).isEqualTo("0x100100000");
        driver.switchTo().activeElement().sendKeys(Keys.ENTER);
        until(ExpectedConditions.attributeToBe(By.cssSelector("#regions-body tr[data-address='0x100100000']"),
                "aria-selected", "true"));
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100100002']"), "30"));

        // Tab reaches the hex view; arrows move, digits write, Escape drops a half-typed byte
        WebElement hex = driver.findElement(By.id("hex"));
        js("arguments[0].focus()", driver.findElement(By.id("hex-reload")));
        driver.switchTo().activeElement().sendKeys(Keys.TAB);
        assertThat(driver.switchTo().activeElement()).isEqualTo(hex);
        hex.sendKeys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, "7");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100100002']"), "7_"));
        hex.sendKeys(Keys.ESCAPE);
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100100002']"), "30"));
        hex.sendKeys(Keys.END, "e", "e");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x10010000f']"), "ee"));
        assertThat(read(task, "0x100100000", 16)).containsExactly(0x10, 0x20, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0xee);
        assertThat(read(task, "0x100100002", 1)).containsExactly(0x30);
    }

    /** The page as a person debugging a sandbox sees it; the README's picture is a copy. */
    @Test
    void screenshotForTheReadme() throws IOException {
        for (Object other : given().when().get("/tasks").jsonPath().getList("id")) {
            given().when().delete("/tasks/" + other).then().statusCode(204);
        }
        String task = "sandbox-" + TASKS.incrementAndGet();
        given().contentType(ContentType.JSON).body("{\"name\":\"web worker\"}").when().put("/tasks/" + task)
                .then().statusCode(201);
        allocate(task, "0x100000000", "0x10000");
        allocate(task, "0x100020000", "0x4000");
        allocate(task, "0x180000000", "0x400000");
        allocate(task, "0x7f0000000000", "0x20000");
        protect(task, "0x100020000", "0x4000", "r--");
        protect(task, "0x7f0000000000", "0x8000", "r-x");
        protect(task, "0x7f0000018000", "0x8000", "---");
        inherit(task, "0x180000000", "0x400000", "share");
        write(task, "0x100000000", "machvm: Mach virtual memory as a service\0\u0001\u0002\u0003"
                .getBytes(StandardCharsets.ISO_8859_1));
        write(task, "0x100008000", new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef});
        byte[] heap = new byte[0x24000];
        new java.util.Random(15).nextBytes(heap);
        write(task, "0x180010000", heap);
        given().contentType(ContentType.JSON).body("{\"sourceAddress\":\"0x100000000\",\"size\":\"0x4000\","
                + "\"destAddress\":\"0x100004000\"}").when().post("/tasks/" + task + "/copy").then().statusCode(204);
        given().contentType(ContentType.JSON).body("{\"parent\":\"" + task + "\",\"name\":\"child\"}")
                .when().post("/tasks").then().statusCode(201);

        openTask(task);
        until(d -> d.findElements(By.cssSelector("#map .seg")).size() == 6);
        // the heap's pages in the grid, the first region's text in the hex view, the cursor on a byte
        driver.findElement(By.cssSelector("#regions-body tr[data-address='0x180000000'] button")).click();
        until(d -> d.findElements(By.cssSelector("#pages-grid .pg")).size() == 256);
        goTo("0x100000008");
        until(ExpectedConditions.textToBe(By.cssSelector("#hex [data-address='0x100000000']"), "6d"));
        until(d -> "2".equals(d.findElement(By.id("host-tasks")).getText())
                && d.findElements(By.cssSelector("#tasks-body tr")).size() == 2);
        js("document.activeElement.blur()");
        Path shot = screenshot("inspector");
        assertThat(Files.size(shot)).isGreaterThan(10_000);
    }

    // ------------------------------------------------------------------ helpers

    private String base() {
        return "http://localhost:" + port;
    }

    private static String newTask() {
        String id = "ui-" + TASKS.incrementAndGet();
        given().contentType(ContentType.JSON).body("{}").when().put("/tasks/" + id).then().statusCode(201);
        return id;
    }

    private static void allocate(String task, String address, String size) {
        given().contentType(ContentType.JSON).body("{\"address\":\"" + address + "\",\"size\":\"" + size + "\"}")
                .when().post("/tasks/" + task + "/allocate").then().statusCode(201);
    }

    private static void protect(String task, String address, String size, String protection) {
        given().contentType(ContentType.JSON).body("{\"address\":\"" + address + "\",\"size\":\"" + size
                        + "\",\"setMaximum\":false,\"protection\":\"" + protection + "\"}")
                .when().post("/tasks/" + task + "/protect").then().statusCode(204);
    }

    private static void inherit(String task, String address, String size, String inheritance) {
        given().contentType(ContentType.JSON).body("{\"address\":\"" + address + "\",\"size\":\"" + size
                        + "\",\"inheritance\":\"" + inheritance + "\"}")
                .when().post("/tasks/" + task + "/inherit").then().statusCode(204);
    }

    private static void write(String task, String address, byte[] data) {
        given().contentType(ContentType.BINARY).body(data).when().put("/tasks/" + task + "/memory/" + address)
                .then().statusCode(204);
    }

    private static int[] read(String task, String address, int size) {
        byte[] bytes = given().accept(ContentType.BINARY).when()
                .get("/tasks/" + task + "/memory/" + address + "?size=" + size)
                .then().statusCode(200).extract().asByteArray();
        int[] out = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = bytes[i] & 0xff;
        }
        return out;
    }

    private static byte[] toBytes(int[] values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    private void openTask(String task) {
        driver.get(base() + "/ui/#/tasks/" + task);
        until(ExpectedConditions.textToBe(By.id("task-id"), task));
        until(ExpectedConditions.textToBePresentInElementLocated(By.id("task-summary"), "regions"));
        until(ExpectedConditions.attributeToBe(By.id("task-view"), "aria-busy", "false"));
    }

    private void goTo(String address) {
        WebElement input = driver.findElement(By.id("goto-address"));
        input.clear();
        input.sendKeys(address + Keys.ENTER);
        until(ExpectedConditions.attributeContains(
                By.cssSelector("#hex [data-address='" + address + "']"), "class", "cursor"));
    }

    private List<String> pageClasses() {
        return driver.findElements(By.cssSelector("#pages-grid .pg")).stream()
                .map(e -> e.getAttribute("class")).toList();
    }

    private static WebElement cell(WebElement row, int column) {
        return row.findElements(By.tagName("td")).get(column);
    }

    private static BigInteger u64(Object text) {
        String s = String.valueOf(text).trim();
        return new BigInteger(s.substring(2), 16);
    }

    private static List<BigInteger> u64s(String range) {
        return java.util.Arrays.stream(range.split("-")).map(InspectorPageTest::u64).toList();
    }

    private static Object js(String script, Object... arguments) {
        return ((JavascriptExecutor) driver).executeScript(script, arguments);
    }

    private static <T> T until(java.util.function.Function<? super org.openqa.selenium.WebDriver, T> condition) {
        return new WebDriverWait(driver, WAIT).until(condition);
    }

    private static Path screenshot(String name) {
        try {
            Path target = Path.of("target", name + ".png");
            Files.createDirectories(target.getParent());
            // the whole page, not only the window
            Number height = (Number) js("return document.documentElement.scrollHeight");
            Map<String, Object> shot = driver.executeCdpCommand("Page.captureScreenshot", Map.of("format", "png",
                    "captureBeyondViewport", true, "clip", Map.of("x", 0, "y", 0, "width", 1280,
                            "height", height.intValue(), "scale", 1)));
            Files.write(target, java.util.Base64.getDecoder().decode((String) shot.get("data")));
            return target;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A stand-in for the service's authentication: while {@link #REQUIRED} holds a token, API paths answer 401 with
     * {@code WWW-Authenticate: Bearer} unless the request carries it. Records each API request's path and
     * Authorization header in {@link #SEEN}. The page itself is served under a strict Content-Security-Policy, so
     * that an inline script, handler or style would show as a refusal in the browser console.
     */
    @TestConfiguration(proxyBeanMethods = false)
    static class BearerStub {
        static final AtomicReference<String> REQUIRED = new AtomicReference<>();
        static final ConcurrentLinkedQueue<String> SEEN = new ConcurrentLinkedQueue<>();
        static final String STRICT_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; "
                + "connect-src 'self'; img-src 'self' data: blob:; form-action 'self'; base-uri 'none'; "
                + "frame-ancestors 'none'";

        @Bean
        FilterRegistrationBean<OncePerRequestFilter> bearerStubFilter() {
            var registration = new FilterRegistrationBean<OncePerRequestFilter>(new OncePerRequestFilter() {
                @Override
                protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response,
                        FilterChain chain) throws ServletException, IOException {
                    String path = request.getRequestURI();
                    String required = REQUIRED.get();
                    boolean api = path.startsWith("/tasks") || path.startsWith("/host");
                    if (path.startsWith("/ui/")) {
                        response.setHeader("Content-Security-Policy", STRICT_POLICY);
                    }
                    if (required == null || !api) {
                        chain.doFilter(request, response);
                        return;
                    }
                    String authorization = request.getHeader("Authorization");
                    SEEN.add(path + " " + authorization);
                    if (!("Bearer " + required).equals(authorization)) {
                        response.setStatus(401);
                        response.setHeader("WWW-Authenticate", "Bearer");
                        response.setContentType("application/problem+json");
                        response.getWriter().write("{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":"
                                + "401,\"detail\":\"" + (authorization == null ? "no bearer token was sent"
                                : "the bearer token is not valid") + "\",\"instance\":\"" + path + "\"}");
                        return;
                    }
                    chain.doFilter(request, response);
                }
            });
            registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 10);
            return registration;
        }
    }
}
